/** Name rules shared by queues, topics, groups and subscriptions (API.md, Conventions). */
import { ApiError } from "./errors";

export const NAME_PATTERN = /^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$/;

export function isValidName(name: string): boolean {
  return NAME_PATTERN.test(name);
}

/** Throws `400 INVALID_NAME` unless `name` is a valid resource name. */
export function assertName(name: string | undefined, what: string): string {
  if (name === undefined || !isValidName(name)) {
    throw new ApiError("INVALID_NAME", `invalid ${what} name: must match ${NAME_PATTERN.source}`, {
      field: what,
      value: name === undefined ? null : name.slice(0, 200),
    });
  }
  return name;
}
