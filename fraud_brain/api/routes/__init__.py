"""The API's routers, one module per audience: feeds, banks, agents' cases, admins."""
