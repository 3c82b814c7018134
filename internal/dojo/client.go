// Package dojo is a small client for the DefectDojo v2 REST API: token
// authentication, JSON in and out, typed errors that tell a retryable outage
// from a refused request. Onboarding uses products and product types; the
// import work adds engagements and (re)imports on the same Do.
package dojo

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"
)

// Client talks to one DefectDojo instance.
type Client struct {
	base  string
	token string
	http  *http.Client
}

// New builds a client for baseURL (e.g. https://dojo.example.com); httpClient may be nil.
func New(baseURL, token string, httpClient *http.Client) *Client {
	if httpClient == nil {
		httpClient = &http.Client{Timeout: 30 * time.Second}
	}
	return &Client{base: strings.TrimRight(baseURL, "/"), token: token, http: httpClient}
}

// APIError is a non-2xx answer.
type APIError struct {
	Method, Path string
	Status       int
	Body         string
}

func (e *APIError) Error() string {
	return fmt.Sprintf("defectdojo %s %s: %d %s", e.Method, e.Path, e.Status, e.Body)
}

// Retryable reports whether trying again later may succeed.
func (e *APIError) Retryable() bool {
	return e.Status == http.StatusTooManyRequests || e.Status == http.StatusRequestTimeout || e.Status >= 500
}

// IsNotFound reports a 404 answer.
func IsNotFound(err error) bool {
	var ae *APIError
	return errors.As(err, &ae) && ae.Status == http.StatusNotFound
}

// Do sends one request. path is relative to /api/v2 (e.g. "/products/"); in
// is encoded as JSON when not nil; out, when not nil, receives the answer.
func (c *Client) Do(ctx context.Context, method, path string, query url.Values, in, out any) error {
	u := c.base + "/api/v2" + path
	if len(query) > 0 {
		u += "?" + query.Encode()
	}
	var body io.Reader
	if in != nil {
		b, err := json.Marshal(in)
		if err != nil {
			return err
		}
		body = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(ctx, method, u, body)
	if err != nil {
		return err
	}
	req.Header.Set("Authorization", "Token "+c.token)
	req.Header.Set("Accept", "application/json")
	if in != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := c.http.Do(req)
	if err != nil {
		return fmt.Errorf("defectdojo %s %s: %w", method, path, err)
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(io.LimitReader(resp.Body, 4<<20))
	if err != nil {
		return fmt.Errorf("defectdojo %s %s: %w", method, path, err)
	}
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		msg := strings.TrimSpace(string(raw))
		if len(msg) > 500 {
			msg = msg[:500]
		}
		return &APIError{Method: method, Path: path, Status: resp.StatusCode, Body: msg}
	}
	if out != nil && len(bytes.TrimSpace(raw)) > 0 {
		if err := json.Unmarshal(raw, out); err != nil {
			return fmt.Errorf("defectdojo %s %s: decode: %w", method, path, err)
		}
	}
	return nil
}

// Product is a DefectDojo product (one per tenant).
type Product struct {
	ID          int64    `json:"id,omitempty"`
	Name        string   `json:"name"`
	Description string   `json:"description"`
	ProdType    int64    `json:"prod_type"`
	Tags        []string `json:"tags"`
}

type page[T any] struct {
	Count   int `json:"count"`
	Results []T `json:"results"`
}

// FindProduct returns the product with exactly this name, or nil.
func (c *Client) FindProduct(ctx context.Context, name string) (*Product, error) {
	var p page[Product]
	if err := c.Do(ctx, http.MethodGet, "/products/", url.Values{"name": {name}}, nil, &p); err != nil {
		return nil, err
	}
	// The name filter is exact in DefectDojo; compare anyway, a proxy or an
	// older version may treat it as a substring.
	for _, r := range p.Results {
		if r.Name == name {
			return &r, nil
		}
	}
	return nil, nil
}

// CreateProduct creates a product.
func (c *Client) CreateProduct(ctx context.Context, p Product) (Product, error) {
	var out Product
	err := c.Do(ctx, http.MethodPost, "/products/", nil, p, &out)
	return out, err
}

// DeleteProduct deletes a product; a missing one counts as deleted.
func (c *Client) DeleteProduct(ctx context.Context, id int64) error {
	err := c.Do(ctx, http.MethodDelete, "/products/"+strconv.FormatInt(id, 10)+"/", nil, nil, nil)
	if IsNotFound(err) {
		return nil
	}
	return err
}

type productType struct {
	ID   int64  `json:"id,omitempty"`
	Name string `json:"name"`
}

// EnsureProductType returns the id of the product type with this name,
// creating it when missing.
func (c *Client) EnsureProductType(ctx context.Context, name string) (int64, error) {
	var p page[productType]
	if err := c.Do(ctx, http.MethodGet, "/product_types/", url.Values{"name": {name}}, nil, &p); err != nil {
		return 0, err
	}
	for _, r := range p.Results {
		if r.Name == name {
			return r.ID, nil
		}
	}
	var out productType
	if err := c.Do(ctx, http.MethodPost, "/product_types/", nil, productType{Name: name}, &out); err != nil {
		return 0, err
	}
	return out.ID, nil
}
