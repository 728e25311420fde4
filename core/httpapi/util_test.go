package httpapi_test

import (
	"strconv"
	"testing"
)

func itoa(id int64) string { return strconv.FormatInt(id, 10) }

func rootID(t *testing.T, e *env, token string) int64 {
	t.Helper()
	r := e.do("GET", "/api/v1/org/tree", token, nil)
	var tree struct {
		Root struct {
			ID int64 `json:"id"`
		} `json:"root"`
	}
	r.json(t, &tree)
	if tree.Root.ID == 0 {
		t.Fatalf("tree: %d %s", r.Status, r.Body)
	}
	return tree.Root.ID
}

func atoi(s string) int64 {
	n, err := strconv.ParseInt(s, 10, 64)
	if err != nil {
		panic(err)
	}
	return n
}
