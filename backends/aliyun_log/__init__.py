"""The `aliyun-log` backend: Alibaba Cloud Log Service projects and logstores as files."""
