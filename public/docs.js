// Swagger UI for GET /openapi.json, from the copy this Worker serves (no CDN). "Authorize" runs the
// OAuth2 password flow against /auth/token; the tokens stay in this page's memory.
window.ui = SwaggerUIBundle({
  url: '/openapi.json',
  dom_id: '#swagger-ui',
  deepLinking: true,
  // The default sends the document to validator.swagger.io for a badge: nothing leaves this origin.
  validatorUrl: null,
  persistAuthorization: false,
  tryItOutEnabled: true,
})
window.ui.initOAuth({ scopes: ['read', 'write'] })
