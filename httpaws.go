package lambda

import (
	"fmt"
	"net/url"
	"strings"
)

// AWSEndpoint returns the HTTPRules that allow every method to the
// endpoints of the AWS service in region, as aws-sdk-go-v2 names them:
// SERVICE.REGION.amazonaws.com and the names under it (S3's
// virtual-hosted buckets, BUCKET.s3.REGION.amazonaws.com), with their
// dualstack and FIPS forms, and amazonaws.com.cn in the China regions.
// service is the endpoint prefix: "s3", "sqs", "dynamodb", "sts".
//
//	HTTP: &lambda.HTTPGrant{Allow: lambda.AWSEndpoint("s3", "eu-west-1")}
func AWSEndpoint(service, region string) []HTTPRule {
	domain := "amazonaws.com"
	if strings.HasPrefix(region, "cn-") {
		domain = "amazonaws.com.cn"
	}
	var rules []HTTPRule
	for _, prefix := range []string{service, service + "-fips", service + ".dualstack", service + "-fips.dualstack"} {
		host := prefix + "." + region + "." + domain
		rules = append(rules, HTTPRule{Host: host, Methods: []string{"*"}}, HTTPRule{Host: "*." + host, Methods: []string{"*"}})
	}
	return rules
}

// HTTPEndpoint returns the HTTPRule that allows every method to the host
// and port of endpoint, a URL such as a local server's that an SDK client
// is configured with ("http://127.0.0.1:4566", aws-sdk-go-v2's BaseEndpoint).
// A URL without a port allows its scheme's.
func HTTPEndpoint(endpoint string) (HTTPRule, error) {
	u, err := url.Parse(endpoint)
	if err != nil {
		return HTTPRule{}, fmt.Errorf("HTTPEndpoint: %w", err)
	}
	if (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return HTTPRule{}, fmt.Errorf("HTTPEndpoint %q: want an http or https URL with a host", endpoint)
	}
	host := u.Host
	if u.Port() == "" {
		port := "80"
		if u.Scheme == "https" {
			port = "443"
		}
		host = strings.TrimSuffix(host, ":") + ":" + port
	}
	r := HTTPRule{Host: host, Methods: []string{"*"}}
	if _, err := parseHTTPRule(r); err != nil {
		return HTTPRule{}, fmt.Errorf("HTTPEndpoint %q: %v", endpoint, err)
	}
	return r, nil
}
