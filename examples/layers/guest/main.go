// The layers guest: an AWS Lambda handler in Go that uses the files AWS
// gives a function. It reads its settings from a layer
// (/opt/config/settings.json), a template from its own package
// ($LAMBDA_TASK_ROOT/templates/greeting.txt), and keeps a visit log in /tmp.
//
// Build it from the repository root with:
//
//	GOOS=wasip1 GOARCH=wasm go build -buildmode=c-shared -o bootstrap ./examples/layers/guest
package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"text/template"

	"github.com/wasmlambda/lambda/guest"
)

// Event is what the function receives: Op is "greet" (the default) or
// "write-opt".
type Event struct {
	Op   string `json:"op"`
	Name string `json:"name"`
}

// Response is what "greet" returns.
type Response struct {
	Greeting string `json:"greeting"`
	Visits   int    `json:"visits"`
}

// settings is the layer's configuration.
type settings struct {
	Greeting string `json:"greeting"`
	Site     string `json:"site"`
}

const (
	settingsPath = "/opt/config/settings.json"
	visitsPath   = "/tmp/visits.log"
)

func handler(ctx context.Context, e Event) (*Response, error) {
	switch e.Op {
	case "", "greet":
		return greet(e.Name)
	case "write-opt":
		// Layers are read-only: this fails with EROFS.
		if err := os.WriteFile(settingsPath, []byte(`{}`), 0o644); err != nil {
			return nil, err
		}
		return nil, errors.New("wrote to " + settingsPath)
	}
	return nil, fmt.Errorf("unknown op %q", e.Op)
}

func greet(name string) (*Response, error) {
	if name == "" {
		return nil, errors.New("name is required")
	}
	// The layer's settings.
	b, err := os.ReadFile(settingsPath)
	if err != nil {
		return nil, err
	}
	var s settings
	if err := json.Unmarshal(b, &s); err != nil {
		return nil, fmt.Errorf("%s: %w", settingsPath, err)
	}
	// The package's template, where AWS puts a function's code.
	tpl, err := template.ParseFiles(filepath.Join(os.Getenv("LAMBDA_TASK_ROOT"), "templates", "greeting.txt"))
	if err != nil {
		return nil, err
	}
	var out bytes.Buffer
	if err := tpl.Execute(&out, map[string]string{"Greeting": s.Greeting, "Site": s.Site, "Name": name}); err != nil {
		return nil, err
	}
	// /tmp belongs to this sandbox and outlives the invocation.
	f, err := os.OpenFile(visitsPath, os.O_WRONLY|os.O_CREATE|os.O_APPEND, 0o644)
	if err != nil {
		return nil, err
	}
	if _, err := fmt.Fprintln(f, name); err != nil {
		f.Close()
		return nil, err
	}
	if err := f.Close(); err != nil {
		return nil, err
	}
	log, err := os.ReadFile(visitsPath)
	if err != nil {
		return nil, err
	}
	return &Response{Greeting: out.String(), Visits: strings.Count(string(log), "\n")}, nil
}

// A reactor never runs main, so the handler is registered in init.
func init() { guest.Start(handler) }

func main() {}
