// Command guest is a small JSON API, a plain http.Handler, run in a
// wasmlambda sandbox by guest/lambdaurl. Its items live in the sandbox's
// memory, as a warm Lambda's globals do.
package main

import (
	"encoding/json"
	"net/http"
	"sync"

	"github.com/wasmlambda/lambda/guest/lambdaurl"
)

type item struct {
	ID   int    `json:"id"`
	Name string `json:"name"`
}

var (
	mu    sync.Mutex
	items []item
)

func main() {}

func init() {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /items", func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		defer mu.Unlock()
		writeJSON(w, http.StatusOK, append([]item{}, items...))
	})
	mux.HandleFunc("POST /items", func(w http.ResponseWriter, r *http.Request) {
		var it item
		if err := json.NewDecoder(r.Body).Decode(&it); err != nil || it.Name == "" {
			writeJSON(w, http.StatusBadRequest, map[string]string{"error": "want {\"name\":\"…\"}"})
			return
		}
		mu.Lock()
		it.ID = len(items) + 1
		items = append(items, it)
		mu.Unlock()
		writeJSON(w, http.StatusCreated, it)
	})
	lambdaurl.Start(mux)
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}
