//go:build !wasip1

package main

import "github.com/aws/aws-lambda-go/lambda"

// On AWS Lambda, and in any native build, aws-lambda-go serves Handle.
func main() { lambda.Start(Handle) }
