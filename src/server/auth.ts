/**
 * Access to the dashboard: one random token per `vfioctl serve` process, presented as
 * `Authorization: Bearer TOKEN` (scripts) or the `vfioctl_session` cookie (a browser, set by opening the
 * printed URL). Tokens are compared in constant time (SHA-256 of both, then timingSafeEqual), so neither
 * the length nor a matching prefix shows in the response time.
 */
import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';

export const COOKIE_NAME = 'vfioctl_session';

/** 32 random bytes (256 bits), base64url. */
export function newToken(): string {
  return randomBytes(32).toString('base64url');
}

export function tokenMatches(given: string | undefined | null, token: string): boolean {
  if (typeof given !== 'string' || given.length === 0 || given.length > 512) return false;
  const a = createHash('sha256').update(given).digest();
  const b = createHash('sha256').update(token).digest();
  return timingSafeEqual(a, b);
}

/** The value of one cookie in a Cookie header (the first of that name), or null. */
export function cookieValue(header: string | undefined, name: string): string | null {
  if (!header || header.length > 8192) return null;
  for (const part of header.split(';')) {
    const eq = part.indexOf('=');
    if (eq < 0) continue;
    if (part.slice(0, eq).trim() === name) return part.slice(eq + 1).trim();
  }
  return null;
}

/** The token of an `Authorization: Bearer TOKEN` header, or null. */
export function bearerToken(header: string | undefined): string | null {
  const m = /^Bearer +([A-Za-z0-9_\-.~+/=]+) *$/.exec(header ?? '');
  return m ? m[1]! : null;
}

export type AuthBy = 'bearer' | 'cookie' | null;

/** How a request is authenticated: a valid Bearer header wins, then a valid cookie; null: not at all. */
export function authOf(headers: { authorization?: string | undefined; cookie?: string | undefined }, token: string): AuthBy {
  if (tokenMatches(bearerToken(headers.authorization), token)) return 'bearer';
  if (tokenMatches(cookieValue(headers.cookie, COOKIE_NAME), token)) return 'cookie';
  return null;
}
