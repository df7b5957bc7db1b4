/**
 * Cloudflare's Durable Object location hints (applied only when an object is first
 * created). Dependency-free, so the client SDK can import the type without server code.
 */
export const LOCATION_HINTS = ["wnam", "enam", "sam", "weur", "eeur", "apac", "oc", "afr", "me"] as const;
export type LocationHint = (typeof LOCATION_HINTS)[number];
