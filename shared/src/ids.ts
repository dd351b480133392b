import { randomUUID } from 'node:crypto';

declare const brand: unique symbol;
/** A string that is known to be a particular kind of id; a UserId cannot be passed where an ImageId is due. */
export type Id<Kind extends string> = string & { readonly [brand]: Kind };

export type UserId = Id<'user'>;
export type ApiKeyId = Id<'apiKey'>;
export type RefreshTokenId = Id<'refreshToken'>;
export type TokenFamilyId = Id<'tokenFamily'>;
export type ImageId = Id<'image'>;

export const newId = <T extends Id<string>>(): T => randomUUID() as T;

const uuidPattern = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;
/** Ids come from clients as path parameters; anything that is not one of ours is simply not found. */
export const parseId = <T extends Id<string>>(raw: string): T | null => (uuidPattern.test(raw) ? (raw as T) : null);

export type Role = 'user' | 'admin';
export const roles = ['user', 'admin'] as const satisfies readonly Role[];

/** An email after trimming and lower-casing: the only form stored or compared. */
export type Email = Id<'email'>;
