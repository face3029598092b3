import { ApiProperty } from '@nestjs/swagger';
import {
  ArrayMaxSize,
  IsArray,
  IsString,
  MaxLength,
  ValidateBy,
  type ValidationOptions,
} from 'class-validator';
import { ALLOWED_IPS_MAX, normalizeIpEntry } from '@gatehouse/contracts';

/** Longest entry worth parsing: a full IPv6 address with an IPv4 tail and a prefix is 49 characters. */
export const ALLOWED_IP_ENTRY_MAX_LENGTH = 64;

/** Each element an IPv4 or IPv6 address, or a CIDR with a prefix length valid for its family. */
export function IsIpOrCidr(options?: ValidationOptions): PropertyDecorator {
  return ValidateBy(
    {
      name: 'isIpOrCidr',
      validator: {
        validate: (value: unknown) => typeof value === 'string' && normalizeIpEntry(value) !== null,
        defaultMessage: () =>
          'each entry of allowed_ips must be an IPv4 or IPv6 address or CIDR (e.g. 203.0.113.7, 10.0.0.0/8, ' +
          '2001:db8::/32)',
      },
    },
    options,
  );
}

export const ALLOWED_IPS_PROPERTY = {
  description:
    'Addresses and CIDRs (IPv4 and IPv6) the key may be used from: authenticate, direct key use and tokens ' +
    'issued from the key answer 403 ip_not_allowed elsewhere. Stored normalized (`10.1.2.3/24` → `10.1.2.0/24`, ' +
    'a bare address as /32 or /128, `::ffff:1.2.3.4` as IPv4), duplicates dropped. Empty: no restriction.',
  type: 'string',
  isArray: true,
  maxItems: ALLOWED_IPS_MAX,
  example: ['203.0.113.0/24', '2001:db8::/32'],
} as const;

/** The whole allowlist of a key, replacing the previous one; an empty array lifts the restriction. */
export class SetAllowedIpsDto {
  @ApiProperty(ALLOWED_IPS_PROPERTY)
  @IsArray()
  @ArrayMaxSize(ALLOWED_IPS_MAX)
  @IsString({ each: true })
  @MaxLength(ALLOWED_IP_ENTRY_MAX_LENGTH, { each: true })
  @IsIpOrCidr({ each: true })
  allowed_ips!: string[];
}
