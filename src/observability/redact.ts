// Connection URLs in logs and errors (a store's, Redis's) without the credentials they may carry.

/** `scheme://user:password@host/…` → `scheme://***@host/…`. */
export function redactUrl(url: string): string {
  return url.replace(/\/\/[^@/]*@/, '//***@');
}
