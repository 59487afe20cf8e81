package mediatype

import (
	"testing"

	"github.com/stretchr/testify/require"
)

func TestIsText(t *testing.T) {
	for ct, want := range map[string]bool{
		"":                                  false,
		"text/plain":                        true,
		"text/html; charset=utf-8":          true,
		"TEXT/CSV":                          true,
		"application/json":                  true,
		"application/json; charset=utf-8":   true,
		"application/vnd.api+json":          true,
		"application/atom+xml":              true,
		"application/xml":                   true,
		"application/javascript":            true,
		"application/yaml":                  true,
		"application/x-www-form-urlencoded": false,
		"multipart/form-data; boundary=x":   false,
		"application/octet-stream":          false,
		"image/png":                         false,
		"application/pdf":                   false,
	} {
		t.Run(ct, func(t *testing.T) { require.Equal(t, want, IsText(ct)) })
	}
}
