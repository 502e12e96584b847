import { USER_ROLES, type UserRole } from '../contracts/roles.js';

export function isUserRole(role: string): role is UserRole {
  return (USER_ROLES as readonly string[]).includes(role);
}

/** True when `role` is a user role at least as strong as `required`. */
export function roleAllows(role: string, required: UserRole): boolean {
  if (!isUserRole(role)) return false;
  return USER_ROLES.indexOf(role) >= USER_ROLES.indexOf(required);
}
