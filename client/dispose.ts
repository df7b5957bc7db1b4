/**
 * Explicit resource management (`await using`) for every runtime the client targets.
 * The root tsconfig compiles against ES2023 + workers-types, which lack the
 * `Symbol.asyncDispose` declaration; this adds it (identical to @types/node's and to
 * TypeScript's esnext.disposable, so they merge), which also lets a user whose `lib` lacks
 * them write `await using` on the SDK's objects. At run time, runtimes without the symbol get the registry symbol TypeScript's
 * down-levelled `await using` looks for.
 */
declare global {
  interface SymbolConstructor {
    readonly dispose: unique symbol;
    readonly asyncDispose: unique symbol;
  }
  interface Disposable {
    [Symbol.dispose](): void;
  }
  interface AsyncDisposable {
    [Symbol.asyncDispose](): PromiseLike<void>;
  }
}

if (typeof Symbol.asyncDispose !== "symbol") {
  Object.defineProperty(Symbol, "asyncDispose", { value: Symbol.for("Symbol.asyncDispose") });
}

export {};
