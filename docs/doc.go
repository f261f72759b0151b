// Package docs holds the project's documentation pages and the tests that
// keep them honest: every relative link leads to a file, and to a heading
// when it names one.
package docs
