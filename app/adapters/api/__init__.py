"""HTTP interfaces other than forward-auth: operations endpoints, and later the REST API."""
