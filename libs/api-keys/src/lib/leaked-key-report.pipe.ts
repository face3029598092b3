import { Injectable, type PipeTransform } from '@nestjs/common';
import { plainToInstance } from 'class-transformer';
import { validateSync } from 'class-validator';
import { GatehouseError } from '@gatehouse/contracts';
import type { FieldProblem } from '@gatehouse/http';
import { LEAKED_KEY_REPORT_MAX_ENTRIES, LeakedKeyReportDto } from './dto/report-leaked-keys.dto';

/** Invalid fields listed in one answer: enough to fix a client, bounded however bad the report. */
const PROBLEMS_SHOWN = 20;

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/**
 * The body of `POST /api/v1/leaked-keys`: a JSON array, which the global ValidationPipe does not look into.
 * Unlike the other routes, unknown fields of an entry are dropped rather than refused: the reports come from a
 * scanner we do not control, and a field it adds one day must not stop the revocation of leaked keys.
 */
@Injectable()
export class LeakedKeyReportPipe implements PipeTransform<unknown, LeakedKeyReportDto[]> {
  transform(body: unknown): LeakedKeyReportDto[] {
    if (!Array.isArray(body)) {
      throw new GatehouseError('validation_failed', 'The body must be a JSON array of reports');
    }
    if (body.length > LEAKED_KEY_REPORT_MAX_ENTRIES) {
      throw new GatehouseError(
        'payload_too_large',
        `A report may hold at most ${LEAKED_KEY_REPORT_MAX_ENTRIES} entries; split it`,
      );
    }
    const problems: FieldProblem[] = [];
    const reports = body.map((entry: unknown, index) => {
      if (!isRecord(entry)) {
        problems.push({ field: String(index), problems: ['each report must be a JSON object'] });
        return undefined;
      }
      const report = plainToInstance(LeakedKeyReportDto, entry);
      const errors = validateSync(report, {
        whitelist: true,
        forbidNonWhitelisted: false,
        validationError: { target: false, value: false },
      });
      for (const error of errors) {
        problems.push({
          field: `${index}.${error.property}`,
          problems: Object.values(error.constraints ?? {}),
        });
      }
      return report;
    });
    if (problems.length > 0) {
      const shown = problems.slice(0, PROBLEMS_SHOWN);
      const more = problems.length - shown.length;
      const summary = shown.map((problem) => `${problem.field}: ${problem.problems.join(', ')}`).join('; ');
      throw new GatehouseError(
        'validation_failed',
        more > 0 ? `${summary}; and ${more} more` : summary,
        shown,
      );
    }
    return reports as LeakedKeyReportDto[];
  }
}
