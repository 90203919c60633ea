/*
 * `@broker/tools/oauth`: the OAuth 2.0 HTTP exchanges, for the api's connect
 * and callback routes (which must not load the tool implementations).
 */
export { pkcePair, authorizationUrl, exchangeAuthorizationCode, oauthTokenFetcher } from './grants';
export { requestToken, tokenEndpointClient, TOKEN_REQUEST_TIMEOUT_MS, type TokenEndpointClient } from './token-endpoint';
