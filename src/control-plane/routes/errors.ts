import { ErrorBody } from '../../contracts/common.js';

/** Error responses every authenticated route can give, for the OpenAPI document. */
export const ERROR_RESPONSES = {
  400: ErrorBody,
  401: ErrorBody,
  403: ErrorBody,
  404: ErrorBody,
  409: ErrorBody,
  413: ErrorBody,
  503: ErrorBody,
} as const;
