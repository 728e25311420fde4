// Package httpapi serves the REST API under /api/v1 (JSON, OpenAPI document at
// /api/v1/openapi.json) and the original product's compatibility API under
// /API/<method>.aspx. It decodes, authenticates and renders; every rule lives
// in the core package that owns the data.
package httpapi
