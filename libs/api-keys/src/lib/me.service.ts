import { Injectable } from '@nestjs/common';
import { ApiProperty, ApiPropertyOptional, ApiSchema } from '@nestjs/swagger';
import { InjectRepository } from '@nestjs/typeorm';
import type { Repository } from 'typeorm';
import {
  PERMISSIONS,
  PLANS,
  ROLES,
  type Permission,
  type Plan,
  type Principal,
  type Role,
} from '@gatehouse/contracts';
import { OrganizationEntity } from '@gatehouse/persistence';

@ApiSchema({ name: 'MeOrganization', description: "The caller's organization, named by its token" })
export class MeOrganizationView {
  @ApiProperty({ format: 'uuid' })
  id!: string;

  @ApiProperty({ example: 'acme' })
  name!: string;

  @ApiProperty({ enum: PLANS })
  plan!: Plan;
}

@ApiSchema({
  name: 'Me',
  description:
    'Who the caller is: a dashboard user (token from the identity provider) or an API key (Gatehouse access token)',
})
export class MeView {
  @ApiProperty({ enum: ['user', 'api_key'] })
  kind!: 'user' | 'api_key';

  @ApiProperty({
    description: 'As recorded in created_by and the audit trail: user:<id> or api_key:<id>',
    example: 'user:auth0|5f7c',
  })
  subject!: string;

  @ApiPropertyOptional({ description: "The identity provider's user id; users only", example: 'auth0|5f7c' })
  user_id?: string;

  @ApiPropertyOptional({ format: 'uuid', description: "The key's id; API keys only" })
  api_key_id?: string;

  @ApiProperty({ type: () => MeOrganizationView })
  organization!: MeOrganizationView;

  @ApiPropertyOptional({ enum: ROLES, description: 'The role from the user token; API keys have none' })
  role?: Role;

  @ApiProperty({
    enum: PERMISSIONS,
    isArray: true,
    description: "What the caller may do: a user's role's permissions, or the key's token's",
    example: ['read:keys', 'write:keys'],
  })
  permissions!: Permission[];
}

/** The caller as a frontend needs it to decide what to show: identity, organization and what it may do. */
@Injectable()
export class MeService {
  constructor(
    @InjectRepository(OrganizationEntity) private readonly organizations: Repository<OrganizationEntity>,
  ) {}

  async describe(principal: Principal): Promise<MeView> {
    // The organization comes from the verified token only; the database adds its name and plan.
    const organization = await this.organizations.findOneOrFail({
      select: { id: true, name: true, plan: true },
      where: { id: principal.organizationId },
    });
    const common = {
      organization: { id: organization.id, name: organization.name, plan: organization.plan },
      permissions: PERMISSIONS.filter((permission) => principal.permissions.includes(permission)),
    };
    if (principal.kind === 'user') {
      return {
        kind: 'user',
        subject: `user:${principal.userId}`,
        user_id: principal.userId,
        ...common,
        role: principal.role,
      };
    }
    return {
      kind: 'api_key',
      subject: `api_key:${principal.apiKeyId}`,
      api_key_id: principal.apiKeyId,
      ...common,
    };
  }
}
