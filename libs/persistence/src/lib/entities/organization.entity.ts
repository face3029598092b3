import { Column, CreateDateColumn, Entity, PrimaryGeneratedColumn } from 'typeorm';
import type { Plan } from '@gatehouse/contracts';

// The plans (and the rate limits they carry) belong to contracts; re-exported for the code that reads them here.
export { PLANS, type Plan } from '@gatehouse/contracts';

@Entity({ name: 'organizations' })
export class OrganizationEntity {
  @PrimaryGeneratedColumn('uuid')
  id!: string;

  @Column({ type: 'varchar', length: 40, unique: true })
  name!: string;

  @Column({ type: 'varchar', length: 16 })
  plan!: Plan;

  @CreateDateColumn({ name: 'created_at', type: 'timestamptz' })
  createdAt!: Date;
}
