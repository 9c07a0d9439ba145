"""The screens people work in: server-rendered pages over the same services the API uses."""
