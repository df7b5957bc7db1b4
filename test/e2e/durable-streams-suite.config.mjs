// The vitest config for the published Durable Streams conformance suite, run unmodified by
// durable-streams-support.ts: its own test file (`dist/test-runner.js`, which the suite's CLI
// cannot include from under node_modules) and vitest's defaults for everything else.
export default {
  test: {
    root: process.env.CONFORMANCE_SUITE_ROOT,
    include: ["dist/test-runner.js"],
    exclude: [],
  },
};
