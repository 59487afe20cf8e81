package lambda

import (
	"net/url"
	"testing"

	"github.com/stretchr/testify/require"
)

func TestHTTPAllow(t *testing.T) {
	tests := []struct {
		rule   HTTPRule
		method string
		url    string
		err    string // "" allowed; "host" or "method" refused for that
	}{
		{HTTPRule{Host: "api.example.com"}, "GET", "https://api.example.com/x", ""},
		{HTTPRule{Host: "api.example.com"}, "HEAD", "http://API.Example.com.:8080/x", ""},
		{HTTPRule{Host: "api.example.com"}, "POST", "https://api.example.com/x", "method"},
		{HTTPRule{Host: "api.example.com"}, "get", "https://api.example.com/x", "method"},
		{HTTPRule{Host: "api.example.com"}, "GET", "https://example.com/x", "host"},
		{HTTPRule{Host: "api.example.com"}, "GET", "https://api.example.com.evil.org/x", "host"},
		{HTTPRule{Host: "api.example.com"}, "GET", "https://evil.org/?api.example.com", "host"},
		{HTTPRule{Host: "api.example.com"}, "GET", "https://api.example.com@evil.org/", "host"},
		{HTTPRule{Host: "api.example.com:443"}, "GET", "https://api.example.com/x", ""},
		{HTTPRule{Host: "api.example.com:443"}, "GET", "http://api.example.com/x", "host"},
		{HTTPRule{Host: "api.example.com:80"}, "GET", "http://api.example.com/x", ""},
		{HTTPRule{Host: "api.example.com:8080"}, "GET", "http://api.example.com:8080/x", ""},
		{HTTPRule{Host: "api.example.com:8080"}, "GET", "http://api.example.com:8081/x", "host"},
		{HTTPRule{Host: "*.example.com"}, "GET", "http://a.b.example.com/", ""},
		{HTTPRule{Host: "*.example.com"}, "GET", "http://example.com/", "host"},
		{HTTPRule{Host: "*.example.com"}, "GET", "http://badexample.com/", "host"},
		{HTTPRule{Host: "*"}, "GET", "http://anything.org:9/", ""},
		{HTTPRule{Host: "*:8080"}, "GET", "http://anything.org:9/", "host"},
		{HTTPRule{Host: "[::1]"}, "GET", "http://[::1]:8080/", ""},
		{HTTPRule{Host: "[::1]:8080"}, "GET", "http://[::1]/", "host"},
		{HTTPRule{Host: "127.0.0.1"}, "GET", "http://127.0.0.1:1234/", ""},
		{HTTPRule{Host: "127.0.0.1"}, "GET", "http://localhost:1234/", "host"},
		{HTTPRule{Host: "a.com", Methods: []string{"*"}}, "PATCH", "http://a.com/", ""},
		{HTTPRule{Host: "a.com", Methods: []string{"DELETE"}}, "GET", "http://a.com/", "method"},
	}
	for _, tt := range tests {
		t.Run(tt.rule.Host+" "+tt.method+" "+tt.url, func(t *testing.T) {
			g := &HTTPGrant{Allow: []HTTPRule{tt.rule}}
			require.NoError(t, g.withDefaults("f"))
			u, err := url.Parse(tt.url)
			require.NoError(t, err)
			err = newHostHTTP(g).allow(tt.method, u)
			switch tt.err {
			case "":
				require.NoError(t, err)
			case "host":
				require.ErrorContains(t, err, "host "+u.Host+" is not allowed")
			case "method":
				require.ErrorContains(t, err, "method "+tt.method+" is not allowed for host "+u.Host)
			}
		})
	}
}
