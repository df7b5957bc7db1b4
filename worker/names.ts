/** Name rules shared by queues, topics, groups and subscriptions (API.md, Conventions). */
import { isValidName, NAME_PATTERN } from "../protocol/names";
import { ApiError } from "../durable-objects/shared/errors";

export { isValidName, NAME_PATTERN } from "../protocol/names";

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
