package main

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"

	"github.com/secureops/secureops/internal/testutil/pgtest"
)

// Issue 17: a new deployment's first operator. The command creates the
// Kratos identity (no password), flags the user platform admin and prints
// the recovery link through which they set a password. Kratos' admin API
// is faked: it checks the requests.
func TestAdminPlatformAdmin(t *testing.T) {
	d := pgtest.New(t)
	id := uuid.New()
	var created, recovered bool
	kratos := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		switch {
		case r.Method == "GET" && r.URL.Path == "/admin/identities":
			if r.URL.Query().Get("credentials_identifier") != "root@ops.example.test" {
				t.Errorf("identity looked up by %q", r.URL.RawQuery)
			}
			_, _ = w.Write([]byte("[]"))
		case r.Method == "POST" && r.URL.Path == "/admin/identities":
			var body map[string]any
			_ = json.NewDecoder(r.Body).Decode(&body)
			if c, ok := body["credentials"].(map[string]any); ok && c["password"] != nil {
				t.Errorf("the identity was created with a password: %v", c)
			}
			created = true
			w.WriteHeader(http.StatusCreated)
			_ = json.NewEncoder(w).Encode(map[string]any{"id": id.String(), "schema_id": "default", "schema_url": "", "traits": body["traits"]})
		case r.Method == "POST" && r.URL.Path == "/admin/recovery/code":
			recovered = true
			w.WriteHeader(http.StatusCreated)
			_ = json.NewEncoder(w).Encode(map[string]any{"recovery_link": "https://secureops.example.test/auth/recovery?flow=f", "recovery_code": "123456"})
		default:
			t.Errorf("unexpected Kratos call %s %s", r.Method, r.URL)
			http.NotFound(w, r)
		}
	}))
	defer kratos.Close()
	for k, v := range map[string]string{
		"SECUREOPS_ENV": "test", "DATA_DIR": t.TempDir(), "DATABASE_URL": "", "APP_DATABASE_URL": d.AppDSN,
		"KRATOS_PUBLIC_URL": kratos.URL, "KRATOS_ADMIN_URL": kratos.URL,
	} {
		t.Setenv(k, v)
	}
	c := adminCmd()
	var out bytes.Buffer
	c.SetOut(&out)
	c.SetErr(&out)
	c.SetArgs([]string{"platform-admin", "--email", "Root@Ops.example.test", "--name", "Root"})
	if err := c.Execute(); err != nil {
		t.Fatalf("%v: %s", err, out.String())
	}
	if !created || !recovered || !strings.Contains(out.String(), "recovery_link=https://secureops.example.test/auth/recovery?flow=f") {
		t.Errorf("created %v, recovery %v, output %q", created, recovered, out.String())
	}
	conn, err := pgx.Connect(context.Background(), d.SuperDSN)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(context.Background())
	var admin bool
	if err := conn.QueryRow(context.Background(), "SELECT is_platform_admin FROM users WHERE id = $1", id).Scan(&admin); err != nil || !admin {
		t.Errorf("user %s platform admin: %v %v", id, admin, err)
	}
}
