// Command lifecycle is a Go test guest served with aws-lambda-go's options:
// WithEnableSIGTERM, whose callbacks print "SIGTERM hook N ran" on standard
// output when the host shuts the sandbox down, and WithSetIndent. Its
// handler returns the execution role's credentials as the guest sees them
// in its environment, and those it saw during init.
//
// Build from the repository root:
//
//	GOOS=wasip1 GOARCH=wasm go build -buildmode=c-shared -o lifecycle.wasm ./testdata/guests/go/lifecycle
package main

import (
	"context"
	"fmt"
	"os"

	"github.com/wasmlambda/lambda/guest"
)

// creds are the role's credentials as the environment has them.
type creds struct {
	AccessKeyID     string `json:"accessKeyId"`
	SecretAccessKey string `json:"secretAccessKey"`
	SessionToken    string `json:"sessionToken"`
}

func current() creds {
	return creds{os.Getenv("AWS_ACCESS_KEY_ID"), os.Getenv("AWS_SECRET_ACCESS_KEY"), os.Getenv("AWS_SESSION_TOKEN")}
}

// atInit are the credentials init saw.
var atInit = current()

type response struct {
	Now  creds `json:"now"`
	Init creds `json:"init"`
}

func handler(context.Context) (response, error) {
	return response{Now: current(), Init: atInit}, nil
}

func init() {
	guest.StartWithOptions(handler,
		guest.WithSetIndent("", " "),
		guest.WithEnableSIGTERM(
			func() { fmt.Println("SIGTERM hook 1 ran") },
			func() { fmt.Println("SIGTERM hook 2 ran") },
		))
}

func main() {}
