#!/usr/bin/env node
// `npm run soak`: the soak is TypeScript (bench/soak/main.ts), which Node 22.18+ runs natively
// (type stripping). npm scripts run the Node 22 that `npm install` brings.
const [major, minor] = process.versions.node.split(".").map(Number);
if (major < 22 || (major === 22 && minor < 18)) {
  console.error(`soak needs Node >= 22.18 (this is ${process.version}); run it with \`npm run soak\`.`);
  process.exit(1);
}
await import("./main.ts");
