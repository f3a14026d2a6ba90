from __future__ import annotations

from cloudbox.errors import Conflict, InvalidInput, NotFound


class SshKeyNotFound(NotFound):
    code = "SSH_KEY_NOT_FOUND"
    message = "SSH key not found"


class GithubRepositoryNotFound(NotFound):
    code = "GITHUB_REPOSITORY_NOT_FOUND"
    message = "GitHub repository not found"


class WebServerNotFound(NotFound):
    code = "WEB_SERVER_NOT_FOUND"
    message = "Web server not found"


class DeploymentNotFound(NotFound):
    code = "DEPLOYMENT_NOT_FOUND"
    message = "Deployment not found"


class SshKeyExists(Conflict):
    code = "SSH_KEY_EXISTS"
    message = "An SSH key with this name already exists in the project"


class SshKeyInUse(Conflict):
    code = "SSH_KEY_IN_USE"
    message = "The SSH key is used by repositories or web servers; detach it first"


class RepositoryInUse(Conflict):
    code = "REPOSITORY_IN_USE"
    message = "The repository is used by deployments; delete or move them first"


class WebServerInUse(Conflict):
    code = "WEB_SERVER_IN_USE"
    message = "The web server is used by deployments; delete or move them first"


class InvalidReference(InvalidInput):
    code = "INVALID_REFERENCE"
    message = "The referenced row does not exist in this project"


class InvalidSshKey(InvalidInput):
    code = "INVALID_SSH_KEY"
    message = "The private key could not be read as a supported SSH key"


class EncryptedSshKey(InvalidInput):
    code = "SSH_KEY_ENCRYPTED"
    message = (
        "The private key is protected by a passphrase; import it without one "
        "(it is encrypted at rest by the server)"
    )
