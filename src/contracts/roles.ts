/** Roles a person's token can have, weakest first: each role may do what the ones before it may. */
export const USER_ROLES = ['viewer', 'operator', 'admin'] as const;
export type UserRole = (typeof USER_ROLES)[number];

/**
 * Every kind of token: user roles, join tokens (enrolment only), node credentials, and inference
 * tokens (agents' /v2 and /metrics only, scoped to deployments: checked on the agent, never by the
 * control plane's API).
 */
export const TOKEN_ROLES = [...USER_ROLES, 'join', 'node', 'inference'] as const;
export type TokenRole = (typeof TOKEN_ROLES)[number];

/** Roles an admin may hand out with `fogline token create`. Node credentials come from enrolment. */
export const CREATABLE_ROLES = ['viewer', 'operator', 'admin', 'join', 'inference'] as const;
export type CreatableRole = (typeof CREATABLE_ROLES)[number];
