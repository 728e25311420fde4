// Package web serves the browser side of Tether: the customer pages, the
// technician console and the admin centre, as html/template pages with plain
// embedded JavaScript. It owns cookies, CSRF tokens, the Content-Security-Policy
// and translations; it holds no domain rules and calls the core services or,
// from the browser, the REST API through its cookie-to-bearer bridge.
package web
