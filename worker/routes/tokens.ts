/** /v1/tokens: minting capability tokens (admin key only). (Arrives with the tokens issue.) */
import { newApp } from "../http";

export const tokens = newApp();
