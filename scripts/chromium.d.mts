// Types of scripts/chromium.mjs for the TypeScript tests that import it.
export declare const KNOWN_LOCATIONS: Record<string, string[]>;
export declare const MISSING_CHROMIUM: string;
export declare function findChromium(options?: {
  env?: Record<string, string | undefined>;
  platform?: string;
  executable?: (path: string) => boolean;
}): string | undefined;
export declare function mayInstallWithApt(options?: { platform?: string; uid?: number; osRelease?: string }): boolean;
export declare function ensureChromium(options?: {
  log?: (line: string) => void;
  find?: () => string | undefined;
  mayInstall?: () => boolean;
  /** Runs apt-get with these arguments; undefined on success, else why it failed. */
  apt?: (args: string[]) => string | undefined;
}): string;
