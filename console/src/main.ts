/**
 * The console's entry: the page shell (header, navigation, theme switch), sign-in, and a
 * hash router (`#/`, `#/queues/<name>`, `#/topics/<name>`, `#/tokens`) so the Worker
 * serves one page at /console. Each view lives until the next navigation, which aborts
 * its timers and streams.
 */
import { fill, h } from "./dom";
import { forgetCredential, signIn, storedCredential, type Session } from "./session";
import { type View, type ViewContext } from "./view";
import { overview } from "./views/overview";
import { queuePage } from "./views/queue";
import { signInPage } from "./views/signin";
import { tokensPage } from "./views/tokens";
import { topicPage } from "./views/topic";

const THEME_KEY = "spool.console.theme";
const main = document.getElementById("main")!;
const who = document.getElementById("who")!;
const nav = document.getElementById("nav")!;
const themeButton = document.getElementById("theme") as HTMLButtonElement;
const signOutButton = document.getElementById("signout") as HTMLButtonElement;

let session: Session | null = null;
let current: AbortController | null = null;

// ---- theme: the system's unless the user picked one (kept across tabs: it is no secret)

function applyTheme(): void {
  const chosen = localStorage.getItem(THEME_KEY);
  const dark = chosen ? chosen === "dark" : matchMedia("(prefers-color-scheme: dark)").matches;
  if (chosen) document.documentElement.dataset.theme = chosen;
  else delete document.documentElement.dataset.theme;
  themeButton.setAttribute("aria-pressed", String(dark));
  themeButton.textContent = dark ? "Light theme" : "Dark theme";
}
themeButton.addEventListener("click", () => {
  const dark = themeButton.getAttribute("aria-pressed") === "true";
  localStorage.setItem(THEME_KEY, dark ? "light" : "dark");
  applyTheme();
});
matchMedia("(prefers-color-scheme: dark)").addEventListener("change", applyTheme);
applyTheme();

// ---- routing

const ROUTES: Array<[RegExp, View]> = [
  [/^#\/queues\/([^/]+)$/, queuePage],
  [/^#\/topics\/([^/]+)$/, topicPage],
  [/^#\/tokens$/, (ctx) => tokensPage(ctx)],
  [/^(#\/?)?$/, (ctx) => overview(ctx)],
];

function viewContext(s: Session, signal: AbortSignal): ViewContext {
  return {
    session: s,
    root: main,
    signal,
    every(ms, task) {
      let running = false;
      const run = async () => {
        if (running || signal.aborted || document.hidden) return;
        running = true;
        try {
          await task();
        } finally {
          running = false;
        }
      };
      void run();
      const timer = setInterval(run, ms);
      signal.addEventListener("abort", () => clearInterval(timer), { once: true });
    },
  };
}

async function route(): Promise<void> {
  current?.abort();
  current = new AbortController();
  if (!session) return;
  for (const a of nav.querySelectorAll("a")) {
    const here = a.getAttribute("href") === (location.hash.startsWith("#/tokens") ? "#/tokens" : "#/");
    if (here) a.setAttribute("aria-current", "page");
    else a.removeAttribute("aria-current");
  }
  const match = ROUTES.map(([re, view]) => [re.exec(location.hash), view] as const).find(([m]) => m);
  fill(main);
  if (!match) {
    fill(main, h("h1", { tabindex: -1 }, "Not found"), h("p", null, h("a", { href: "#/" }, "Back to the overview")));
  } else {
    const [m, view] = match;
    await view(viewContext(session, current.signal), decodeURIComponent(m![1] ?? ""));
  }
  // Keyboard and screen-reader users land on the new page's heading.
  main.querySelector<HTMLElement>("h1")?.focus({ preventScroll: true });
}

function signedIn(s: Session): void {
  session = s;
  fill(who, h("span", { "data-testid": "who" }, `Signed in with ${s.label}`));
  document.body.dataset.signedIn = s.kind;
  void route();
}

function signOut(problem?: string): void {
  current?.abort();
  void session?.spool.close();
  session = null;
  forgetCredential();
  delete document.body.dataset.signedIn;
  fill(who);
  signInPage(main, signedIn, problem);
}

signOutButton.addEventListener("click", () => signOut());
addEventListener("hashchange", () => void route());

// "/" jumps to the search box of the page, as on many consoles.
addEventListener("keydown", (e) => {
  if (e.key !== "/" || e.ctrlKey || e.metaKey || e.altKey) return;
  const target = e.target as HTMLElement;
  if (target.closest("input, textarea, select, [contenteditable]")) return;
  const search = document.querySelector<HTMLInputElement>("[data-search]");
  if (!search) return;
  e.preventDefault();
  search.focus();
});

const saved = storedCredential();
if (saved) {
  signIn(saved).then(signedIn, () => signOut("Your saved credential no longer works. Sign in again."));
} else {
  signOut();
}
