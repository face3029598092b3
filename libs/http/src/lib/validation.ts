import { ValidationPipe, type ValidationError } from '@nestjs/common';
import { GatehouseError } from '@gatehouse/contracts';

export interface FieldProblem {
  field: string;
  problems: string[];
}

function flatten(errors: ValidationError[], parent = ''): FieldProblem[] {
  return errors.flatMap((error) => {
    const field = parent ? `${parent}.${error.property}` : error.property;
    const own: FieldProblem[] = error.constraints
      ? [{ field, problems: Object.values(error.constraints) }]
      : [];
    return [...own, ...flatten(error.children ?? [], field)];
  });
}

/** Unknown fields are refused rather than silently dropped, so a typo in a client never goes unnoticed. */
export function createValidationPipe(): ValidationPipe {
  return new ValidationPipe({
    whitelist: true,
    forbidNonWhitelisted: true,
    transform: true,
    stopAtFirstError: false,
    validationError: { target: false, value: false },
    exceptionFactory: (errors) => {
      const details = flatten(errors);
      const summary = details.map((detail) => `${detail.field}: ${detail.problems.join(', ')}`).join('; ');
      return new GatehouseError('validation_failed', summary || 'Request is invalid', details);
    },
  });
}
