// Package mediatype decides, by content type, whether an HTTP body travels
// in a Lambda HTTP event as text or as base64, as Lambda function URLs and
// API Gateway HTTP APIs decide it. The host (trigger/httpfn) and the guest
// (guest/lambdaurl) share it.
package mediatype

import "strings"

// IsText reports whether a body of contentType (a Content-Type header
// value, parameters and all) is sent as text: text/*, and the JSON,
// JavaScript, XML and YAML types, application/x-www-form-urlencoded
// excepted, which AWS sends as base64. A body without a content type is
// binary.
func IsText(contentType string) bool {
	mt, _, _ := strings.Cut(contentType, ";")
	mt = strings.ToLower(strings.TrimSpace(mt))
	if strings.HasPrefix(mt, "text/") {
		return true
	}
	switch mt {
	case "application/json", "application/javascript", "application/ecmascript",
		"application/xml", "application/yaml", "application/x-yaml",
		"application/graphql", "application/ld+json", "image/svg+xml":
		return true
	}
	return strings.HasSuffix(mt, "+json") || strings.HasSuffix(mt, "+xml")
}
