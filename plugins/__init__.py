"""Rule plugins shipped with reelwatch; each uses only the public hooks."""
