// The one configuration both edges run with: the host gets it as `--set key=value`, the npm
// keeper as `createKeeper` options. Only the backend URL differs (each edge has its own recorder,
// same path `/api`).

/** The management API key (both edges require it on everything but /health). */
export const API_KEY = 'conformance-k3y';

/** Keys given to both edges verbatim. */
export const SHARED = {
  apiKey: API_KEY,
  laravelApiToken: 'backend-token',
  signingSecret: 'signing-secret',
  requestTimeout: 5_000,
  // Short spacing so the story's deliveries leave quickly; every other core key keeps its default.
  syncSpacing: 20,
};

/** `Authorization` header with the right key. */
export const AUTH = { authorization: `Bearer ${API_KEY}` };
