//! OAuth 2 token requests (authorization code with PKCE, refresh) per CRM. Being written (issue 4).
