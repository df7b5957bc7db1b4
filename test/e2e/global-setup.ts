// One real local server for the whole e2e run; tests get its URL with inject("spoolUrl").
import type { TestProject } from "vitest/node";
import { startServer, type LocalServer } from "./server";

let server: LocalServer | undefined;

export async function setup(project: TestProject): Promise<void> {
  server = await startServer();
  project.provide("spoolUrl", server.url);
  project.provide("adminKey", server.adminKey);
}

export async function teardown(): Promise<void> {
  await server?.stop();
}

declare module "vitest" {
  export interface ProvidedContext {
    spoolUrl: string;
    adminKey: string;
  }
}
