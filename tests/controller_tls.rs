//! The controller client over TLS with a custom CA and a client certificate (mutual
//! TLS), against a real tonic server that requires and verifies client certificates.

use std::net::SocketAddr;
use std::time::Duration;

use arroyo_exporter::arroyo::error::ErrorKind;
use arroyo_exporter::arroyo::rpc::{RpcAnswer, RpcClient};
use arroyo_exporter::config::{Config, ControllerService};
// The server side comes from the simulator's own generated code: the exporter builds only
// clients.
use arroyo_sim::pb::job_controller_grpc_server::{JobControllerGrpc, JobControllerGrpcServer};
use arroyo_sim::pb::{JobMetricsReq, JobMetricsResp};
use rcgen::{BasicConstraints, CertificateParams, CertifiedIssuer, IsCa, KeyPair};
use tonic::transport::{Certificate, Identity, Server, ServerTlsConfig};
use tonic::{Request, Response, Status};

const DOC: &str = r#"[{"node_id":0,"metric_groups":[{"name":"messages_sent","subtasks":[{"index":0,"metrics":[{"time":1,"value":2.5}]}]}]}]"#;

struct Controller;

#[tonic::async_trait]
impl JobControllerGrpc for Controller {
    async fn job_metrics(
        &self,
        request: Request<JobMetricsReq>,
    ) -> Result<Response<JobMetricsResp>, Status> {
        if request.get_ref().job_id != "job_Tls0000001" {
            return Err(Status::not_found("No metrics for job"));
        }
        Ok(Response::new(JobMetricsResp {
            metrics: DOC.to_string(),
        }))
    }
}

struct Pki {
    dir: tempfile::TempDir,
}

impl Pki {
    fn path(&self, name: &str) -> std::path::PathBuf {
        self.dir.path().join(name)
    }
}

fn ca(name: &str) -> CertifiedIssuer<'static, KeyPair> {
    let mut params = CertificateParams::new(Vec::<String>::new()).unwrap();
    params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    params
        .distinguished_name
        .push(rcgen::DnType::CommonName, name);
    CertifiedIssuer::self_signed(params, KeyPair::generate().unwrap()).unwrap()
}

/// A CA, a server certificate for `localhost`, a client certificate from the same CA,
/// and a client certificate from a foreign CA, all as PEM files.
fn pki() -> (Pki, String, String) {
    let dir = tempfile::tempdir().unwrap();
    let issuer = ca("test ca");
    let other = ca("foreign ca");
    std::fs::write(dir.path().join("ca.pem"), issuer.pem()).unwrap();
    std::fs::write(dir.path().join("foreign-ca.pem"), other.pem()).unwrap();

    let server_key = KeyPair::generate().unwrap();
    let server = CertificateParams::new(vec!["localhost".to_string()])
        .unwrap()
        .signed_by(&server_key, &issuer)
        .unwrap();
    for (name, who) in [("client", &issuer), ("foreign-client", &other)] {
        let key = KeyPair::generate().unwrap();
        let cert = CertificateParams::new(vec!["exporter".to_string()])
            .unwrap()
            .signed_by(&key, who)
            .unwrap();
        std::fs::write(dir.path().join(format!("{name}.pem")), cert.pem()).unwrap();
        std::fs::write(
            dir.path().join(format!("{name}-key.pem")),
            key.serialize_pem(),
        )
        .unwrap();
    }
    (Pki { dir }, server.pem(), server_key.serialize_pem())
}

async fn start_server(server_cert: &str, server_key: &str, ca_pem: &str) -> SocketAddr {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let tls = ServerTlsConfig::new()
        .identity(Identity::from_pem(server_cert, server_key))
        .client_ca_root(Certificate::from_pem(ca_pem));
    let incoming = tokio_stream::wrappers::TcpListenerStream::new(listener);
    let router = Server::builder()
        .tls_config(tls)
        .unwrap()
        .add_service(JobControllerGrpcServer::new(Controller));
    tokio::spawn(router.serve_with_incoming(incoming));
    addr
}

fn client(addr: SocketAddr, pki: &Pki, ca: &str, cert: Option<&str>) -> RpcClient {
    let mut cfg = Config::default().controller;
    cfg.endpoint = format!("https://localhost:{}", addr.port())
        .parse()
        .unwrap();
    cfg.service = ControllerService::JobController;
    cfg.timeout = Duration::from_secs(3);
    cfg.tls.ca_file = Some(pki.path(ca));
    if let Some(c) = cert {
        cfg.tls.cert_file = Some(pki.path(&format!("{c}.pem")));
        cfg.tls.key_file = Some(pki.path(&format!("{c}-key.pem")));
    }
    RpcClient::new(&cfg).unwrap()
}

#[tokio::test]
async fn mutual_tls_with_a_custom_ca() {
    let (pki, server_cert, server_key) = pki();
    let ca_pem = std::fs::read_to_string(pki.path("ca.pem")).unwrap();
    let addr = start_server(&server_cert, &server_key, &ca_pem).await;

    // Right CA and a client certificate the server trusts: the call goes through.
    let good = client(addr, &pki, "ca.pem", Some("client"));
    assert_eq!(
        good.job_metrics("job_Tls0000001").await.unwrap(),
        RpcAnswer::Metrics(
            arroyo_exporter::arroyo::wire::decode_job_metrics(DOC.as_bytes()).unwrap()
        )
    );
    assert_eq!(
        good.job_metrics("job_Other00001").await.unwrap(),
        RpcAnswer::NotFound
    );

    // No client certificate: the server refuses the handshake.
    let anonymous = client(addr, &pki, "ca.pem", None);
    let err = anonymous.job_metrics("job_Tls0000001").await.unwrap_err();
    assert_ne!(err.kind, ErrorKind::Timeout, "{err}");

    // A client certificate from a CA the server does not trust.
    let foreign = client(addr, &pki, "ca.pem", Some("foreign-client"));
    assert!(foreign.job_metrics("job_Tls0000001").await.is_err());

    // The client does not trust the server's CA.
    let distrusting = client(addr, &pki, "foreign-ca.pem", Some("client"));
    assert!(distrusting.job_metrics("job_Tls0000001").await.is_err());
}

#[tokio::test]
async fn gzip_compressed_answers_are_accepted() {
    use tonic::codec::CompressionEncoding;
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let incoming = tokio_stream::wrappers::TcpListenerStream::new(listener);
    let service = JobControllerGrpcServer::new(Controller)
        .send_compressed(CompressionEncoding::Gzip)
        .accept_compressed(CompressionEncoding::Zstd);
    tokio::spawn(
        Server::builder()
            .add_service(service)
            .serve_with_incoming(incoming),
    );
    let mut cfg = Config::default().controller;
    cfg.endpoint = format!("http://{addr}").parse().unwrap();
    let client = RpcClient::new(&cfg).unwrap();
    assert_eq!(
        client.job_metrics("job_Tls0000001").await.unwrap(),
        RpcAnswer::Metrics(
            arroyo_exporter::arroyo::wire::decode_job_metrics(DOC.as_bytes()).unwrap()
        )
    );
}
