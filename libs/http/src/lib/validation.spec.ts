import 'reflect-metadata';
import { Type } from 'class-transformer';
import { IsArray, IsInt, IsObject, IsOptional, IsString, Length, Min, ValidateNested } from 'class-validator';
import { GatehouseError } from '@gatehouse/contracts';
import { createValidationPipe, type FieldProblem } from './validation';

class LocationDto {
  @IsString()
  path!: string;

  @IsOptional()
  @IsInt()
  @Min(1)
  line?: number;
}

class FindingDto {
  @IsString()
  @Length(1, 20)
  title!: string;

  @IsObject()
  @ValidateNested()
  @Type(() => LocationDto)
  location!: LocationDto;

  @IsOptional()
  @IsArray()
  @ValidateNested({ each: true })
  @Type(() => LocationDto)
  related?: LocationDto[];
}

const pipe = createValidationPipe();

async function refusal(value: unknown): Promise<GatehouseError> {
  try {
    await pipe.transform(value, { type: 'body', metatype: FindingDto });
  } catch (error) {
    return error as GatehouseError;
  }
  throw new Error('the pipe accepted the value');
}

function fields(error: GatehouseError): string[] {
  return (error.details as FieldProblem[]).map((problem) => problem.field);
}

describe('createValidationPipe', () => {
  it('accepts a valid body and returns an instance of the DTO', async () => {
    const result: unknown = await pipe.transform(
      { title: 'SQL injection', location: { path: 'src/db.ts', line: 4 } },
      { type: 'body', metatype: FindingDto },
    );
    expect(result).toBeInstanceOf(FindingDto);
    expect((result as FindingDto).location).toBeInstanceOf(LocationDto);
    expect(result).toEqual({ title: 'SQL injection', location: { path: 'src/db.ts', line: 4 } });
  });

  it('refuses an unknown top-level field with validation_failed', async () => {
    const error = await refusal({ title: 'ok', location: { path: 'a.ts' }, severity: 'high' });
    expect(error).toBeInstanceOf(GatehouseError);
    expect(error.code).toBe('validation_failed');
    expect(error.status).toBe(400);
    expect(error.details).toEqual([{ field: 'severity', problems: ['property severity should not exist'] }]);
    expect(error.message).toBe('severity: property severity should not exist');
  });

  it('refuses an unknown nested field and reports its path', async () => {
    const error = await refusal({ title: 'ok', location: { path: 'a.ts', colum: 3 } });
    expect(error.code).toBe('validation_failed');
    expect(fields(error)).toEqual(['location.colum']);
  });

  it('reports nested field paths of invalid values, including array indexes', async () => {
    const error = await refusal({
      title: 'ok',
      location: { path: 42 },
      related: [{ path: 'b.ts' }, { path: 'c.ts', line: 0 }],
    });
    expect(error.code).toBe('validation_failed');
    expect(fields(error)).toEqual(['location.path', 'related.1.line']);
    expect(error.message).toContain('location.path: path must be a string');
    expect(error.message).toContain('related.1.line: line must not be less than 1');
  });

  it('reports every problem of every field, not only the first', async () => {
    const error = await refusal({ title: 7, location: { path: 'a.ts' } });
    const [title] = error.details as FieldProblem[];
    expect(title.field).toBe('title');
    expect(title.problems).toEqual(
      expect.arrayContaining(['title must be a string', expect.stringContaining('title must be')]),
    );
    expect(title.problems.length).toBeGreaterThanOrEqual(2);
  });

  it('does not echo submitted values in the details', async () => {
    const error = await refusal({
      title: 'x'.repeat(21),
      location: { path: 'secret-value-123' },
      extra: 'zzz',
    });
    expect(JSON.stringify(error.details)).not.toContain('xxxxxxxxxxxxxxxxxxxxx');
    expect(JSON.stringify(error.details)).not.toContain('zzz');
  });

  it('refuses a missing nested object', async () => {
    const error = await refusal({ title: 'ok' });
    expect(error.code).toBe('validation_failed');
    expect(fields(error)).toEqual(['location']);
  });
});
