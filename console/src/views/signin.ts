/** Sign-in: paste a credential; it is checked against the API and kept in this tab's sessionStorage only. */
import { fill, h, notice } from "../dom";
import { explain, signIn, type Session } from "../session";

export function signInPage(root: HTMLElement, onSignedIn: (session: Session) => void, problem?: string): void {
  const input = h("input", {
    id: "credential", name: "credential", type: "password", required: true, autocomplete: "off", spellcheck: "false",
    "aria-describedby": "credential-hint",
  });
  const status = h("div", { "aria-live": "polite", "data-testid": "signin-status" }, problem ? notice("warn", problem) : null);
  const form = h("form", { class: "signin", "data-testid": "signin-form" },
    h("fieldset", null,
      h("legend", null, h("h1", null, "Sign in to Spool")),
      h("label", { for: "credential" }, "Admin key, access key or token"), input,
      h("small", { id: "credential-hint" },
        "An access key is “id:secret”. The credential stays in this tab (sessionStorage) and is sent only to this server's /v1 API."),
      h("div", { class: "actions" }, h("button", { type: "submit", class: "primary" }, "Sign in"))),
    status);
  form.addEventListener("submit", async (e) => {
    e.preventDefault();
    fill(status, notice("info", "Checking…"));
    try {
      onSignedIn(await signIn(input.value));
    } catch (err) {
      fill(status, notice("error", explain(err)));
      input.focus();
    }
  });
  fill(root, form);
  input.focus();
}
