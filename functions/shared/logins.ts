/** What each login the stack makes is for: the maintenance functions, or stats. */
export type LoginPurpose = 'maintenance' | 'stats';
export const LOGIN_PURPOSES: readonly LoginPurpose[] = ['maintenance', 'stats'];

/** A login's credentials as its secret holds them; `source` names the secret in messages (never the password). */
export interface LoginCredentials {
  username: string;
  password: string;
  source: string;
}

/** The logins `migrate` keeps in step with their secrets (AWS); none for a self-hosted database. */
export type ManagedLogins = Partial<Record<LoginPurpose, LoginCredentials>>;
