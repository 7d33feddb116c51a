/** The backend's fixed answer; every benchmark response must be exactly this (autocannon `expectBody`). */
export const BACKEND_BODY = JSON.stringify({ ok: true, service: 'bench-backend', items: [1, 2, 3] });

/** Backend paths that answer only with a bearer token attached (bench/backend.ts). */
export const BEARER_PATH = '/bearer/';
