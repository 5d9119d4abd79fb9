// Package table writes row tables as CSV, Markdown and Parquet.
package table
