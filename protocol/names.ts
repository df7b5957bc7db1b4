/** Name rules shared by queues, topics, groups and subscriptions (API.md, Conventions). */
export const NAME_PATTERN = /^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$/;

export function isValidName(name: string): boolean {
  return NAME_PATTERN.test(name);
}

/** The dead-letter queue a queue gets when its config names none. */
export function defaultDeadLetterQueue(queue: string): string {
  return `${queue}.dlq`;
}
