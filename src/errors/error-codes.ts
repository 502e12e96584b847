/**
 * The registry of every error Fogline puts on the wire. Codes are stable: a retired code is
 * never reused. `docs/errors.md` documents each one (a test keeps the two in step).
 */
export const ERROR_CODES = {
  FOGLINE_ERR_REQUEST_INVALID: { status: 400, message: 'The request is not valid' },
  FOGLINE_ERR_REQUEST_MALFORMED_JSON: { status: 400, message: 'The request body is not valid JSON' },
  FOGLINE_ERR_REQUEST_TOO_LARGE: { status: 413, message: 'The request body is too large' },
  FOGLINE_ERR_REQUEST_UNSUPPORTED_MEDIA: { status: 415, message: 'The request body must be JSON' },
  FOGLINE_ERR_AUTH_MISSING: { status: 401, message: 'Authorization: Bearer <token> is required' },
  FOGLINE_ERR_AUTH_INVALID: { status: 401, message: 'The token is not valid' },
  FOGLINE_ERR_AUTH_EXPIRED: { status: 401, message: 'The token has expired' },
  FOGLINE_ERR_AUTH_REVOKED: { status: 401, message: 'The token has been revoked' },
  FOGLINE_ERR_AUTH_FORBIDDEN: { status: 403, message: 'This token may not do that' },
  FOGLINE_ERR_JOIN_TOKEN_INVALID: { status: 401, message: 'The join token is not valid' },
  FOGLINE_ERR_JOIN_TOKEN_USED_UP: { status: 401, message: 'The join token has no uses left' },
  FOGLINE_ERR_TOKEN_NOT_FOUND: { status: 404, message: 'No such token' },
  FOGLINE_ERR_NODE_NOT_FOUND: { status: 404, message: 'No such node' },
  FOGLINE_ERR_NODE_NAME_TAKEN: { status: 409, message: 'A node with this name already exists' },
  FOGLINE_ERR_LABEL_INVALID: { status: 400, message: 'A label is not a valid key=value pair' },
  FOGLINE_ERR_DATASET_NOT_FOUND: { status: 404, message: 'No such dataset or dataset version' },
  FOGLINE_ERR_DATASET_INVALID: { status: 400, message: 'The data is not usable' },
  FOGLINE_ERR_DATASET_TOO_LARGE: { status: 413, message: 'The dataset is larger than the upload limit' },
  FOGLINE_ERR_PIPELINE_PARAMS_INVALID: { status: 400, message: 'A pipeline parameter is unknown or out of range' },
  FOGLINE_ERR_RUN_NOT_FOUND: { status: 404, message: 'No such run' },
  FOGLINE_ERR_RUN_FINISHED: { status: 409, message: 'The run has already finished' },
  FOGLINE_ERR_DEPLOYMENT_NOT_FOUND: { status: 404, message: 'No such deployment' },
  FOGLINE_ERR_DEPLOYMENT_NAME_TAKEN: { status: 409, message: 'A deployment with this name already exists' },
  FOGLINE_ERR_ARTIFACT_NOT_ASSIGNED: { status: 403, message: 'This node is not assigned that model version' },
  FOGLINE_ERR_MODEL_LOADING: { status: 503, message: 'The model is deployed here but not serving yet' },
  FOGLINE_ERR_MODEL_CRASHED: { status: 503, message: "The model's worker stopped while answering; it is being restarted" },
  FOGLINE_ERR_MODEL_NOT_FOUND: { status: 404, message: 'No such model' },
  FOGLINE_ERR_MODEL_VERSION_NOT_FOUND: { status: 404, message: 'No such model version' },
  FOGLINE_ERR_MODEL_ALIAS_NOT_FOUND: { status: 404, message: 'No such model alias' },
  FOGLINE_ERR_MODEL_SELECTOR_INVALID: { status: 400, message: 'Not a model selector: use name, name@version or name@alias' },
  FOGLINE_ERR_ARTIFACT_TOO_LARGE: { status: 413, message: 'The artifact is larger than the limit' },
  FOGLINE_ERR_ARTIFACT_MISSING: { status: 500, message: 'The artifact file is missing from the artifact store' },
  FOGLINE_ERR_ROUTE_NOT_FOUND: { status: 404, message: 'No such route' },
  FOGLINE_ERR_DB_UNAVAILABLE: { status: 503, message: 'The database is not reachable' },
  FOGLINE_ERR_SHUTTING_DOWN: { status: 503, message: 'The server is shutting down' },
  FOGLINE_ERR_INTERNAL: { status: 500, message: 'Internal error' },
} as const satisfies Record<string, { status: number; message: string }>;

export type ErrorCode = keyof typeof ERROR_CODES;
