"""SWE-bench Verified: instances, predictions and grading with the official swebench package."""
