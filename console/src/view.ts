/** What every view gets: the session, its part of the page, and a lifetime that ends when the user navigates away. */
import type { Session } from "./session";

export interface ViewContext {
  session: Session;
  /** The view's element (inside `<main>`). */
  root: HTMLElement;
  /** Aborted when the view is left: stop timers and streams. */
  signal: AbortSignal;
  /**
   * Runs `task` now and then every `ms` while the view is open and the tab visible; a run
   * never overlaps the previous one.
   */
  every(ms: number, task: () => Promise<void>): void;
}

export type View = (ctx: ViewContext, name: string) => void | Promise<void>;

/** `#/queues/jobs` for a queue, `#/topics/chat` for a topic. */
export function linkTo(kind: "queues" | "topics", name: string): string {
  return `#/${kind}/${encodeURIComponent(name)}`;
}

/** Names as the API accepts them (API.md, Conventions). */
export const NAME = /^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$/;
